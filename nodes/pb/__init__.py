"""Generated protobuf code lives here."""
