"""Fixtures that start the AWS emulator (moto in server mode with SageMaker lifecycle)."""
