"""Sandbox: demo CRM and ERP databases to try flows against."""
