"""Flowbridge: keeps a CRM and an ERP in sync with flows drawn as node graphs."""
