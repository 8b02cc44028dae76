"""Operating a federation: provisioning its directory, running its nodes, regenerating stubs."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Federation": "supervisor",
        "Layout": "provisioning",
        "init_federation": "provisioning",
        "rotate_keys": "provisioning",
    },
)
