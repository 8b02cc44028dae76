"""What a node fetches from peers: channels, trust list, status lists, revocations, homes."""

from federation._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AioPeerChannels": "channels",
        "ChannelTarget": "targets",
        "HubHomes": "home_claims",
        "PeerChannels": "channels",
        "RevocationTracker": "revocations",
        "StatusListCache": "status_cache",
        "TrustView": "trust_view",
        "channel_target": "targets",
    },
)
