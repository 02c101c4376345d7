"""Operations: the local stack, backup and restore, and the broker's administration."""
