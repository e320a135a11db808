"""broadcaster: village loudspeaker announcements in Mandarin and Cantonese."""

__version__ = "0.1.0"
