"""Persistence in Azure Table Storage and Queue Storage, behind small store classes."""
