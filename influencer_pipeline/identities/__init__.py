"""Identities: clustering dominant faces into influencers with stable ids."""
