"""DenseNet family: stem conv, dense block of bn-relu-conv layers in a ModuleList joined with torch.cat, transition layer, head."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DenseLayer(nn.Module):
    def __init__(self, in_ch, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(self.relu(self.bn(x)))


class DenseBlock(nn.Module):
    def __init__(self, num_layers, in_ch, growth):
        super().__init__()
        self.layers = nn.ModuleList(
            [DenseLayer(in_ch + i * growth, growth) for i in range(num_layers)]
        )

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            new = layer(torch.cat(features, 1))
            features.append(new)
        return torch.cat(features, 1)


class Transition(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.bn(x))))


class Model(nn.Module):
    def __init__(self, in_channels, stem_ch, growth, num_layers, num_classes):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, stem_ch, 3, padding=1, bias=False)
        self.block1 = DenseBlock(num_layers, stem_ch, growth)
        mid = stem_ch + num_layers * growth
        self.trans1 = Transition(mid, mid // 2)
        self.block2 = DenseBlock(num_layers, mid // 2, growth)
        out_ch = mid // 2 + num_layers * growth
        self.norm = nn.BatchNorm2d(out_ch)
        self.fc = nn.Linear(out_ch, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.trans1(self.block1(x))
        x = self.block2(x)
        x = F.relu(self.norm(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


batch_size = 2
in_channels = 3
image_size = 16
stem_ch = 16
growth = 8
num_layers = 3
num_classes = 10


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, stem_ch, growth, num_layers, num_classes]
