"""The provider's hook: the ``activitysmith`` connection type and the client it builds."""
