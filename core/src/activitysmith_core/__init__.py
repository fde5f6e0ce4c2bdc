"""ActivitySmith core."""
