"""A one-stage box detector as torchvision's are written (untraceable: a preprocessing module hands the network an object holding its tensors, anchors kept in a list attribute, scores kept by a mask and topk, boxes by non-maximum suppression whose count is read from the values; the box coder keeps its weights as a plain tensor attribute, and the bounds boxes are clipped to in a dict of lists)."""
import torch
import torch.nn as nn
import torchvision


class Batch:
    """What the preprocessing gives: the images and their sizes (torchvision's ImageList)."""

    def __init__(self, tensors, sizes):
        self.tensors = tensors
        self.sizes = sizes


class Preprocess(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, images):
        x = (images - torch.tensor(self.mean)[:, None, None]) / torch.tensor(self.std)[:, None, None]
        return Batch(x, [tuple(img.shape[-2:]) for img in images])


class Anchors(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.cell_anchors = [torch.tensor([-s, -s, s, s], dtype=torch.float32) / 2 for s in sizes]

    def forward(self, batch, feature):
        stride = batch.tensors.shape[-1] // feature.shape[-1]
        ys = torch.arange(feature.shape[-2], dtype=torch.float32) * stride
        xs = torch.arange(feature.shape[-1], dtype=torch.float32) * stride
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        shifts = torch.stack((grid_x, grid_y, grid_x, grid_y), dim=-1).reshape(-1, 1, 4)
        cells = torch.stack(self.cell_anchors)
        return (shifts + cells[None]).reshape(-1, 4)


class BoxCoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = torch.tensor([10.0, 10.0, 5.0, 5.0])

    def forward(self, deltas, anchors):
        d = deltas / self.weights
        centre = (anchors[:, :2] + anchors[:, 2:]) / 2
        size = anchors[:, 2:] - anchors[:, :2]
        c = centre + d[:, :2] * size
        s = size * torch.exp(d[:, 2:].clamp(max=4.0))
        return torch.cat((c - s / 2, c + s / 2), dim=1)


class Model(nn.Module):
    def __init__(self, channels, num_anchors, keep):
        super().__init__()
        self.preprocess = Preprocess([0.5, 0.4, 0.3], [0.2, 0.2, 0.25])
        self.backbone = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU())
        self.cls_head = nn.Conv2d(channels, num_anchors, 3, padding=1)
        self.box_head = nn.Conv2d(channels, num_anchors * 4, 3, padding=1)
        self.anchors = Anchors([8.0, 16.0][:num_anchors])
        self.coder = BoxCoder()
        self.keep = keep
        # the corners boxes are clipped to, per image size: tensors two deep in containers
        self.bounds = {"image": [torch.zeros(4), torch.full((4,), 32.0)]}

    def forward(self, images):
        batch = self.preprocess(images)
        feature = self.backbone(batch.tensors)
        scores = self.cls_head(feature)[0].permute(1, 2, 0).reshape(-1).sigmoid()
        deltas = self.box_head(feature)[0].permute(1, 2, 0).reshape(-1, 4)
        boxes = self.coder(deltas, self.anchors(batch, feature))
        boxes = torch.min(torch.max(boxes, self.bounds["image"][0]), self.bounds["image"][1])
        confident = scores > 0.05
        scores, boxes = scores[confident], boxes[confident]
        top, index = scores.topk(min(self.keep, scores.shape[0]))
        boxes = boxes[index]
        kept = torchvision.ops.nms(boxes, top, 0.5)
        return boxes[kept], top[kept]


channels = 8
num_anchors = 2
keep = 40


def get_inputs():
    return [torch.rand(1, 3, 32, 32)]


def get_init_inputs():
    return [channels, num_anchors, keep]
