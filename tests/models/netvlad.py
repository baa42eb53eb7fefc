"""NetVLAD family: small conv backbone, soft assignment by 1x1 conv + softmax, cluster centres as nn.Parameter, residuals by broadcasting, intra-normalisation and L2 normalisation with F.normalize."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class NetVLAD(nn.Module):
    def __init__(self, num_clusters, dim):
        super().__init__()
        self.assign = nn.Conv2d(dim, num_clusters, 1)
        self.centroids = nn.Parameter(torch.randn(num_clusters, dim) * 0.1)

    def forward(self, x):
        x = F.normalize(x, p=2, dim=1)                       # (B, D, H, W)
        a = F.softmax(self.assign(x).flatten(2), dim=1)      # (B, K, N)
        feats = x.flatten(2)                                 # (B, D, N)
        residual = feats.unsqueeze(1) - self.centroids.unsqueeze(0).unsqueeze(-1)  # (B, K, D, N)
        vlad = (residual * a.unsqueeze(2)).sum(dim=-1)       # (B, K, D)
        vlad = F.normalize(vlad, p=2, dim=2)                 # intra-normalisation
        vlad = vlad.flatten(1)
        return F.normalize(vlad, p=2, dim=1)


class Model(nn.Module):
    def __init__(self, in_channels, dim, num_clusters):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(in_channels, dim, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.pool = NetVLAD(num_clusters, dim)

    def forward(self, x):
        return self.pool(self.backbone(x))


batch_size = 2
in_channels = 3
image_size = 32
dim = 32
num_clusters = 8


def get_inputs():
    return [torch.randn(batch_size, in_channels, image_size, image_size)]


def get_init_inputs():
    return [in_channels, dim, num_clusters]
