"""Operating a federation: provisioning its directory, running and inspecting its nodes, stubs."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Federation": "supervisor",
        "Layout": "provisioning",
        "federation_status": "status",
        "init_federation": "provisioning",
        "node_status": "status",
        "read_cached_trust_list": "federation_dir",
        "rotate_keys": "provisioning",
    },
)
