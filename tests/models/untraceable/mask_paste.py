"""Instance masks pasted into the image as torchvision's Mask R-CNN pastes them (untraceable: the boxes kept are those scored over a threshold, as many as the input gives, and torchvision's paste_masks_in_image loops once per box and reads each box's corners as ints, so a recording of one input holds another input's boxes wrong)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.detection.roi_heads import paste_masks_in_image


class Model(nn.Module):
    def __init__(self, channels, size, grid):
        super().__init__()
        self.size, self.grid = size, grid
        self.features = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU())
        self.score = nn.Conv2d(channels, 1, 1)
        self.corners = nn.Conv2d(channels, 4, 1)
        self.mask_head = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(channels, 1, 1))

    def forward(self, images):
        f = self.features(images)
        cells = F.adaptive_avg_pool2d(f, self.grid)  # one candidate box per cell
        scores = self.score(cells).flatten().sigmoid()
        corners = self.corners(cells)[0].flatten(1).t().sigmoid() * self.size
        boxes = torch.cat((torch.minimum(corners[:, :2], corners[:, 2:]),
                           torch.maximum(corners[:, :2], corners[:, 2:])), dim=1)
        keep = scores > scores.mean()
        boxes, scores = boxes[keep], scores[keep]
        regions = torchvision.ops.roi_align(f, [boxes], 7, spatial_scale=1.0, sampling_ratio=2)
        masks = self.mask_head(regions).sigmoid()
        return paste_masks_in_image(masks, boxes, (self.size, self.size), padding=1), scores


channels = 8
size = 32
grid = 4


def get_inputs():
    return [torch.rand(1, 3, size, size)]


def get_init_inputs():
    return [channels, size, grid]
