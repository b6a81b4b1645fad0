"""schemas"""

__all__: list[str] = []
