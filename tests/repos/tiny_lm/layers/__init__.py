from .block import Block
from .norm import RMSNorm

__all__ = ["Block", "RMSNorm"]
