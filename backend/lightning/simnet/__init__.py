"""The embedded simnet: LND's gRPC API over honest Lightning bookkeeping, on one machine."""

from .server import Simnet, SimnetError

__all__ = ["Simnet", "SimnetError"]
