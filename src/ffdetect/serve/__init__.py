"""``ffdetect serve``: REST API and web page for detection."""
