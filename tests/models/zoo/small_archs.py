"""The small torch architectures of the corpus (random weights), one builder per name.

Each builder takes ``torch`` and ``torch.nn`` (imported by the caller only when a model
is built) and returns the module; ``fetch.py`` exports them.
"""


def _ds_cnn(torch, nn):
    c = 64
    layers = [nn.Conv2d(1, c, (10, 4), stride=2, padding=(5, 1)), nn.BatchNorm2d(c), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Conv2d(c, c, 3, padding=1, groups=c), nn.BatchNorm2d(c), nn.ReLU(),
                   nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 12))


def _autoencoder(torch, nn):
    return nn.Sequential(nn.Linear(640, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 8), nn.ReLU(), nn.Linear(8, 128), nn.ReLU(),
                         nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 640))


def _kws_tcnn(torch, nn):
    """TC-ResNet-like 1-D convolutions over MFCC frames."""
    return nn.Sequential(nn.Conv1d(40, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Conv1d(32, 48, 3, stride=2, padding=1), nn.BatchNorm1d(48), nn.ReLU(),
                         nn.Conv1d(48, 48, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(48, 12))


def _kws_gru(torch, nn):
    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(40, 64, 3, padding=1)
            self.gru = nn.GRU(64, 64, batch_first=True)
            self.fc = nn.Linear(64, 12)

        def forward(self, x):
            y, _ = self.gru(torch.relu(self.conv(x)).transpose(1, 2))
            return self.fc(y[:, -1])
    return G()


def _unet(torch, nn):
    class U(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1, self.e2 = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1, stride=2)
            self.mid = nn.Conv2d(32, 32, 3, padding=1)
            self.d1, self.head = nn.Conv2d(48, 16, 3, padding=1), nn.Conv2d(16, 3, 1)

        def forward(self, x):
            a = torch.relu(self.e1(x))
            b = torch.relu(self.mid(torch.relu(self.e2(a))))
            up = nn.functional.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)
            return self.head(torch.relu(self.d1(torch.cat([up, a], 1))))
    return U()


def _det_head(torch, nn):
    class H(nn.Module):
        """SSD/YOLO-style head: boxes in pixels and class probabilities in one tensor."""

        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
            self.box, self.cls = nn.Conv2d(32, 4, 1), nn.Conv2d(32, 8, 1)

        def forward(self, x):
            y = self.f(x)
            box = (self.box(y).sigmoid() * 320.0).flatten(2)
            return torch.cat([box, self.cls(y).sigmoid().flatten(2)], 1).transpose(1, 2)
    return H()


def _pnet(torch, nn):
    """MTCNN P-Net's architecture, random weights."""
    return nn.Sequential(nn.Conv2d(3, 10, 3), nn.PReLU(10), nn.MaxPool2d(2, 2, ceil_mode=True),
                         nn.Conv2d(10, 16, 3), nn.PReLU(16), nn.Conv2d(16, 32, 3), nn.PReLU(32),
                         nn.Conv2d(32, 2, 1), nn.Softmax(1))


SMALL = {"ds_cnn": _ds_cnn, "autoencoder": _autoencoder, "kws_tcnn": _kws_tcnn, "kws_gru": _kws_gru,
          "unet": _unet, "det_head": _det_head, "pnet": _pnet}
