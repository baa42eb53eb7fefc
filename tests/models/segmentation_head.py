"""Segmentation family (torchvision's FCN/DeepLab shape): a strided conv backbone, a classifier head, and the logits resized back to the input's own size with F.interpolate(size=x.shape[-2:]), returned in a dict."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def __init__(self, in_channels, width):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.down = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.down(self.stem(x))


class Head(nn.Sequential):
    def __init__(self, channels, num_classes):
        super().__init__(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                         nn.ReLU(), nn.Dropout(0.1), nn.Conv2d(channels, num_classes, 1))


class Model(nn.Module):
    def __init__(self, in_channels, width, num_classes):
        super().__init__()
        self.backbone = Backbone(in_channels, width)
        self.classifier = Head(2 * width, num_classes)

    def forward(self, x):
        input_shape = x.shape[-2:]  # a torch.Size that reaches interpolate through the graph
        y = self.classifier(self.backbone(x))
        return {"out": F.interpolate(y, size=input_shape, mode="bilinear", align_corners=False)}


batch_size = 2
in_channels = 3
height = width_px = 32
width = 8
num_classes = 5


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width_px)]


def get_init_inputs():
    return [in_channels, width, num_classes]
