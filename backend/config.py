"""The backend's configuration: one frozen, validated object that the app factory takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024 * 1024


class ConfigError(ValueError):
    """A setting is out of range; the message names it."""


@dataclass(frozen=True)
class PoolRules:
    """What PUT /pool and /holdout accept, published in /info and the OpenAPI document so
    that a client refuses a wrong pool before it pays for anything: features (n, d) or
    images (n, h, w) and (n, h, w, c), as uint8 (pixels, kept compact: 60,000 MNIST
    digits in 47 MB) or float32 / float64 (kept as float32, which is what scikit-learn
    fits on anyway)."""

    max_samples: int = 1_000_000
    max_features: int = 65_536  # a 256 x 256 grey image
    max_values: int = 2**30  # a million 28 x 28 digits are 784,000,000
    dtypes: tuple[str, ...] = ("uint8", "float32", "float64")
    channels: tuple[int, ...] = (1, 3, 4)  # grey, RGB, RGBA
    shapes: tuple[str, ...] = ("(n, d)", "(n, h, w)", "(n, h, w, c)")

    def published(self) -> dict:
        """The rules as JSON, as /info gives them."""
        return {"shapes": list(self.shapes), "dtypes": list(self.dtypes),
                "channels": list(self.channels), "max_samples": self.max_samples,
                "max_features": self.max_features, "max_values": self.max_values}


DEFAULT_POOL_RULES = PoolRules()


@dataclass(frozen=True)
class Limits:
    """What one request may carry; beyond these the server answers 413 or 400."""

    max_json_bytes: int = 32 * MiB
    max_pool_bytes: int = 1024 * MiB  # a million 28 x 28 uint8 digits: 748 MiB
    max_samples_per_call: int = 10_000
    max_pool_samples: int = PoolRules.max_samples
    max_features: int = PoolRules.max_features  # per pool or held-out sample
    max_iterations_per_purchase: int = 1_000_000
    max_query_k: int = 100

    def pool_rules(self) -> PoolRules:
        """What PUT /pool and /holdout accept under these limits."""
        return PoolRules(max_samples=self.max_pool_samples, max_features=self.max_features)


@dataclass(frozen=True)
class Config:
    network_file: Path
    node: str
    data_dir: Path
    simnet: bool = False
    lnd_data_dir: Path | None = None  # a Polar export's folder, if not at the file's paths
    host: str = "127.0.0.1"
    port: int = 8402
    price_msat: int = 1000  # per iteration; the seed charged 1 sat
    invoice_expiry_seconds: int = 3600
    credential_ttl_seconds: int = 7 * 24 * 3600
    # challenges cost nothing to ask for: a client address gets this many a minute for
    # sessions that never paid (0: no limit), a session this many unpaid invoices at once
    challenges_per_minute: int = 120
    max_open_challenges: int = 100
    session_idle_seconds: int = 24 * 3600  # a session unused this long is freed
    workers: int = 2  # threads that fit and score models off the event loop
    # a client silent this long is dropped: a request body that stops arriving (408), a
    # connection that sends no complete request, an idle keep-alive connection
    read_timeout_seconds: float = 60.0
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        checks = {
            "price_msat": self.price_msat >= 1,
            "port": 0 <= self.port < 65536,
            "invoice_expiry_seconds": self.invoice_expiry_seconds >= 10,
            "credential_ttl_seconds": self.credential_ttl_seconds >= 60,
            "challenges_per_minute": self.challenges_per_minute >= 0,
            "max_open_challenges": self.max_open_challenges >= 1,
            "session_idle_seconds": self.session_idle_seconds >= 60,
            "workers": self.workers >= 1,
            "read_timeout_seconds": self.read_timeout_seconds > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"{name} is out of range: {getattr(self, name)!r}")
        object.__setattr__(self, "network_file", Path(self.network_file))
        object.__setattr__(self, "data_dir", Path(self.data_dir))

    @property
    def simnet_dir(self) -> Path:
        return self.data_dir / "simnet"

    @property
    def lightning_data_dir(self) -> Path | None:
        """Where the node's TLS cert and macaroons are: the simnet's, a Polar export's
        folder, or (None) the absolute paths the network file names."""
        return self.simnet_dir if self.simnet else self.lnd_data_dir
