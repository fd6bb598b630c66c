"""WeChat Official Account (公众号) channel: plaintext-mode callbacks at /channels/wechat."""
