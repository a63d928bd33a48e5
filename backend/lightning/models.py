"""Plain results of the adapter's calls, in LND's terms but with units in every name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeInfo:
    pubkey: str
    alias: str
    version: str
    network: str  # "regtest", "testnet", "mainnet", ...
    block_height: int
    num_active_channels: int
    uris: tuple[str, ...]


@dataclass(frozen=True)
class Invoice:
    payment_hash: str  # hex
    payment_request: str
    value_msat: int
    memo: str
    state: str  # OPEN | SETTLED | CANCELED | ACCEPTED
    amt_paid_msat: int
    creation_date: int
    expiry: int
    settle_date: int
    add_index: int
    settle_index: int
    preimage: str  # hex; LND reveals it to the invoice's own node
    payment_addr: str  # hex

    @property
    def settled(self) -> bool:
        return self.state == "SETTLED"


@dataclass(frozen=True)
class PayReq:
    destination: str
    payment_hash: str
    amount_msat: int
    timestamp: int
    expiry: int
    description: str
    payment_addr: str

    @property
    def expires_at(self) -> int:
        return self.timestamp + self.expiry


@dataclass(frozen=True)
class Payment:
    payment_hash: str
    preimage: str  # hex, the proof of payment
    value_msat: int
    fee_msat: int
    payment_index: int
    hops: tuple[str, ...]  # pubkeys along the route, the destination last


@dataclass(frozen=True)
class ChannelBalance:
    local_msat: int
    remote_msat: int


@dataclass(frozen=True)
class WalletBalance:
    confirmed_sat: int
    unconfirmed_sat: int

    @property
    def total_sat(self) -> int:
        return self.confirmed_sat + self.unconfirmed_sat


@dataclass(frozen=True)
class Channel:
    chan_id: int
    channel_point: str
    remote_pubkey: str
    capacity_sat: int
    local_balance_sat: int
    remote_balance_sat: int
    active: bool
    initiator: bool
