"""What each method's paper is and the figures it reported (percent, as printed).

Plain data, importable without Keras, so ``list_models``/``info`` and the
model cards stay fast. Figures are copied from the papers' tables; a method
with no ``reported`` figures is one whose tables could not be read.
"""

METHODS = {
    "hashgan": {
        "title": "Unsupervised Deep Generative Adversarial Hashing Network",
        "authors": "Dizaji, Zheng, Sadoughi, Yang, Deng, Huang",
        "venue": "CVPR 2018",
        "learning": "unsupervised",
        "fit_data": "unsupervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-59k",
        "reported": {
            "cifar10": {
                "mAP@all": {16: 29.94, 32: 31.47, 64: 32.53},
                "mAP@1000": {16: 44.65, 32: 46.34, 64: 48.12},
            },
        },
    },
    "uspah": {
        "title": "Unsupervised Semantic-Preserving Adversarial Hashing for Image Search",
        "authors": "Deng, Yang, Liu, Liu, Tao, Gao",
        "venue": "IEEE TIP 2019",
        "learning": "unsupervised",
        "fit_data": "unsupervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-59k",
        "reported": {},
    },
    "dshgan": {
        "title": "Deep Semantic Hashing with Generative Adversarial Networks",
        "authors": "Qiu, Pan, Yao, Mei",
        "venue": "SIGIR 2017",
        "learning": "supervised / semi-supervised",
        "fit_data": "semi-supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "reported": {},
    },
    "fakereg": {
        "title": "Regularizing Deep Hashing Networks Using GAN Generated Fake Images",
        "authors": "Geng, Pan, Chen, Lai",
        "venue": "arXiv 1803.09466",
        "learning": "two-stage, supervised",
        "fit_data": "supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "reported": {},
    },
    "ssah": {
        "title": "SSAH: Semi-supervised Adversarial Deep Hashing with Self-paced Hard Sample Generation",
        "authors": "Jin, Zhang, Li, Chen, Su",
        "venue": "AAAI 2020 (arXiv 1911.08688)",
        "learning": "semi-supervised",
        "fit_data": "semi-supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "reported": {},
    },
}

# protocol used for Fashion-MNIST releases (one protocol for every method)
FASHION_PROTOCOL = "fashion_mnist-59k"
