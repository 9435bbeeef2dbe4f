"""digest: a newsletter-style cyber news aggregator and digest mailer."""

__version__ = "0.1.0"
