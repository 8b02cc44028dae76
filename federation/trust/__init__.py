"""The hub-signed trust list: members, their roles, endpoints, keys and certificate prints."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Member": "trustlist",
        "TrustList": "trustlist",
        "UnknownKey": "trustlist",
        "region_members": "trustlist",
    },
)
