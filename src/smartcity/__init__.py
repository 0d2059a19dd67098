"""Smart Shenzhen (智慧深圳) city platform."""

__version__ = "0.1.0"
