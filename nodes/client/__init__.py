"""The typed Python client for integrators: every node's RPCs over the operator's mTLS identity.

    from nodes.client import FederationClient

    with FederationClient(Path("federation-dir")) as client:
        client.register("ZJ", "natural", citizen_id, "陈静", password)
        login = client.login("ZJ", citizen_id, password, audiences=["SH"])

Failures raise `federation.errors.FederationError` subclasses (the gRPC status mapped back).
"""

from nodes.client.cases import material
from nodes.client.core import FederationClient, to_dict

__all__ = ["FederationClient", "material", "to_dict"]
