"""The platform names envlock targets, shared by the spec and the knowledge base."""

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-amd64", "macos-arm64")
