"""What each method's paper is and the figures it reported (percent, as printed).

Plain data, importable without Keras, so ``list_models``/``info`` and the
model cards stay fast. Figures are copied from the papers' tables; a method
with no ``reported`` figures is one whose tables could not be read.
``changes`` says, for the model cards, where ganhash-zoo departs from the
paper and why (the evidence is in the method's module docstring).
"""

METHODS = {
    "hashgan": {
        "title": "Unsupervised Deep Generative Adversarial Hashing Network",
        "authors": "Dizaji, Zheng, Sadoughi, Yang, Deng, Huang",
        "venue": "CVPR 2018",
        "learning": "unsupervised",
        "fit_data": "unsupervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-59k",
        "changes": "A decorrelation term over each batch's codes (`decorrelation_weight`, 1.0; 0.3 at 64 bits on "
                   "CIFAR-10) is ours: without it the bits end up strongly correlated; at 64 bits a weaker one "
                   "keeps codes close enough for radius-2 search.",
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
        "changes": "The paper builds its similarity graph on a pretrained CNN's features, not available offline; "
                   "here it is built on PCA of the pixels (`features=pixels`) or on unsupervised k-means patch "
                   "features (`features=patches`, Coates, Lee & Ng 2011). Pushing every non-neighbour pair to "
                   "orthogonal codes also pushed apart same-class images outside each other's 3 nearest, and the "
                   "codes spread so evenly that radius-2 balls emptied (precision@r2 0.037 against ITQ's 0.084 on "
                   "cifar10-59k at 48 bits); `far_fraction=0.5` leaves the middle-affinity pairs out of the loss "
                   "and pushes apart only each image's far half. On Fashion-MNIST the recipe adds HashGAN's "
                   "decorrelation of the bits over the batch (`decorrelation_weight=0.5`), without which no "
                   "variant passed ITQ at the top of the ranking on the validation split (mAP@76 0.628-0.679 "
                   "against 0.687), and stops after 2 epochs, before radius-2 precision falls.",
        "reported": {},
    },
    "dshgan": {
        "title": "Deep Semantic Hashing with Generative Adversarial Networks",
        "authors": "Qiu, Pan, Yao, Mei",
        "venue": "SIGIR 2017",
        "learning": "supervised / semi-supervised",
        "fit_data": "semi-supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "changes": "An optional bit-balance term over the real codes (`balance_weight`, 0.1 at 16 bits on "
                   "CIFAR-10, else off) is ours: the hash stream learns from real-synthetic triplets alone, and "
                   "at 16 bits its codes drew into one radius-2 ball.",
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
