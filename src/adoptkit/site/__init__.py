"""The published book site: vendored browser assets so the site calls no host but its own."""

from adoptkit.site.vendor import (
    PINS,
    SPHINX_CONFIG,
    VENDOR_DIR,
    NpmPin,
    VendorError,
    config_problems,
    ensure_vendor,
    install_vendor,
)

__all__ = [
    "PINS",
    "SPHINX_CONFIG",
    "VENDOR_DIR",
    "NpmPin",
    "VendorError",
    "config_problems",
    "ensure_vendor",
    "install_vendor",
]
