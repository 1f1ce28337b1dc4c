"""The WeChat edge: wire format (signatures, encryption, XML), API client, media fetcher."""
