"""vncterm: a VNC (RFB) server whose screen is a terminal."""

__version__ = "0.1.0"
