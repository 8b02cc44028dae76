"""Pure domain core of the Yangtze River Delta federation: no gRPC, protobuf or database drivers.

Subpackages and modules: `regions`, `codes`, `jose`, `trustlist`, `tokens`, `identity`, `face`,
`audit`, `licences`, `licensing`, `storage`. The names below are the ones most callers need.
"""

from federation.errors import FederationError
from federation.identity.assurance import Assurance
from federation.regions import Region, parse_region

__all__ = ["Assurance", "FederationError", "Region", "parse_region"]
