"""The model's settings, as a Hugging Face-style config object."""


class TinyConfig:
    def __init__(self, vocab_size=100, hidden_size=32, num_layers=2, num_heads=4, eps=1e-6):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.eps = eps
