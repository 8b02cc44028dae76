"""The hub-signed trust list: members, their roles, endpoints, keys and certificate prints."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Member": "trustlist",
        "SEALING": "trustlist",
        "SIGNING": "trustlist",
        "TrustList": "trustlist",
        "UnknownKey": "trustlist",
        "check_public_url": "trustlist",
        "hub_keys": "keys",
        "public_urls": "keys",
        "region_members": "trustlist",
        "seal_keys": "keys",
        "status_keys": "keys",
    },
)
