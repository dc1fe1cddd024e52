"""The published book site: vendored browser assets so the site calls no host but its own, and what
chapters use to show attributions, p-values and numbers (adoptkit.site.page)."""

from adoptkit.site.page import cite, number, p_value
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
    "cite",
    "number",
    "p_value",
    "PINS",
    "SPHINX_CONFIG",
    "VENDOR_DIR",
    "NpmPin",
    "VendorError",
    "config_problems",
    "ensure_vendor",
    "install_vendor",
]
