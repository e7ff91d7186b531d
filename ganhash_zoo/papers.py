"""What each method's paper is and the figures it reported (percent, as printed).

Plain data, importable without Keras, so ``list_models``/``info`` and the
model cards stay fast. Figures are copied from the papers' tables; a method
with no ``reported`` figures is one whose tables could not be read.
``changes`` says, for the model cards, where ganhash-zoo departs from the
paper and why (the evidence is in the method's module docstring);
``option_changes`` adds a sentence for a model whose recipe sets that method
option.
"""

# the view-contrastive term (``losses.view_contrast``) some recipes add to their method
CONTRASTIVE_CHANGE = ("This model also learns with a contrastive term of ours (CIBHash's; `contrastive_weight`): each "
                      "image's code is pulled to its view's and pushed from the other images' in the batch, so a "
                      "near-duplicate keeps a code nearer its own than its neighbours'.")
# the fixed bits some recipes append to their method's code (``instance_bits``, methods/base.py)
INSTANCE_BITS_CHANGE = ("The last `instance_bits` bits of this model's code are ours, not learned by the method: ITQ "
                        "bits of what the frozen part of the backbone gives (maps average-pooled), whitened against "
                        "what a flip or a shift does to them (`InvariantITQ`, fitted on the training images and their "
                        "augmented views), so that a near-duplicate stands out from the rest of its class; the method "
                        "learns the other bits.")
# the ITQ bits of the trained network's features some recipes put before the instance bits (``feature_bits``)
FEATURE_BITS_CHANGE = ("Of those, the `feature_bits` bits right after the learned ones are ours too: ITQ bits of "
                       "the fine-tuned network's pooled features of the training images, fitted once training "
                       "ends; they keep the graded similarity between classes that the method's few remaining "
                       "bits would lose.")

METHODS = {
    "hashgan": {
        "title": "Unsupervised Deep Generative Adversarial Hashing Network",
        "authors": "Dizaji, Zheng, Sadoughi, Yang, Deng, Huang",
        "venue": "CVPR 2018",
        "learning": "unsupervised",
        "fit_data": "unsupervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-59k",
        "changes": "The paper trains from pixels; here the networks work on the frozen EfficientNet-Lite0 "
                   "backbone's features: the encoder/discriminator trunk is a dense layer on them, the generator "
                   "makes feature vectors, and the small transform T(x) of the consistency term is the cached "
                   "features of the image's flipped and shifted view. A decorrelation term over each batch's codes "
                   "(`decorrelation_weight`, 1.0) is ours: without it the bits end up strongly correlated. The "
                   "zoo's recipe weighs the minimum-entropy term 1.0 and the consistency term 4.0, which keep "
                   "radius-2 balls filled.",
        "option_changes": {"contrastive_weight": CONTRASTIVE_CHANGE},
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
        "changes": "As the paper, the similarity graph is built on a pretrained CNN's features: the frozen "
                   "EfficientNet-Lite0 backbone's, whose 10 cosine nearest neighbours over the training set "
                   "(`graph_neighbours`) pair each batch's anchors with real neighbours. The generator makes "
                   "feature vectors and the discriminator judges (feature vector, code) pairs. Pushing every "
                   "non-neighbour to an orthogonal code also pushes apart same-class images outside each other's "
                   "3 nearest, so `far_fraction=0.5` leaves the middle-affinity pairs out of the loss and pushes "
                   "apart only each image's far half. Ours: a batch sees a few of the graph's edges, so with "
                   "`graph_code_weight` each image also learns a target code computed once from the whole graph, "
                   "the signs of its leading eigenvectors (Spectral Hashing's relaxation of the same "
                   "keep-neighbours-together objective). These codes carry the released figures: on "
                   "validation, USPAH's in-batch and adversarial terms moved mAP by at most 0.004 beside them "
                   "(RESULTS.md).",
        "option_changes": {"contrastive_weight": CONTRASTIVE_CHANGE},
        "reported": {},
    },
    "dshgan": {
        "title": "Deep Semantic Hashing with Generative Adversarial Networks",
        "authors": "Qiu, Pan, Yao, Mei",
        "venue": "SIGIR 2017",
        "learning": "supervised / semi-supervised",
        "fit_data": "semi-supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "changes": "The CNN is a dense trunk on the frozen EfficientNet-Lite0 backbone's features, and the "
                   "label-conditioned generator makes feature vectors, so the real-synthetic triplets live in "
                   "feature space. A bit-balance term over the real codes (`balance_weight`, 0.1 in the zoo) is "
                   "ours: it keeps codes apart inside a class, so a near-duplicate of a photo can still be told "
                   "from the rest of its class.",
        "option_changes": {"instance_bits": INSTANCE_BITS_CHANGE, "feature_bits": FEATURE_BITS_CHANGE},
        "reported": {},
    },
    "fakereg": {
        "title": "Regularizing Deep Hashing Networks Using GAN Generated Fake Images",
        "authors": "Geng, Pan, Chen, Lai",
        "venue": "arXiv 1803.09466",
        "learning": "two-stage, supervised",
        "fit_data": "supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "changes": "Stage 1's GAN makes feature vectors of the frozen EfficientNet-Lite0 backbone, and the "
                   "maximum-entropy term acts on the hasher's codes of those. The zoo asks same-class codes to agree "
                   "on three quarters of their bits rather than all (`similar_target=0.5`; the paper's pairwise "
                   "target is 1), which keeps more of a class's codes apart.",
        "option_changes": {"instance_bits": INSTANCE_BITS_CHANGE, "feature_bits": FEATURE_BITS_CHANGE},
        "reported": {},
    },
    "ssah": {
        "title": "SSAH: Semi-supervised Adversarial Deep Hashing with Self-paced Hard Sample Generation",
        "authors": "Jin, Zhang, Li, Chen, Su",
        "venue": "AAAI 2020 (arXiv 1911.08688)",
        "learning": "semi-supervised",
        "fit_data": "semi-supervised",  # what fit() takes: the class's ``learning``
        "protocol": "cifar10-54k",
        "changes": "The hard samples are made in the frozen EfficientNet-Lite0 backbone's feature space: A-Net's "
                   "multi-scale occlusions cover groups of the pooled feature channels (16 and 64 groups), and its "
                   "deformation moves a feature vector towards the features of the image's flipped and shifted view; "
                   "the self-paced budget is the paper's. Same-class codes are asked to agree on three quarters of "
                   "their bits (`similar_target=0.5`) rather than all, unless this model's training command sets the "
                   "paper's 1. On Fashion-MNIST a bit-decorrelation term "
                   "(ours, `decorrelation_weight` in the recipe) keeps the codes spread inside each class, which "
                   "the similarity loss alone gathered into a few codes.",
        "option_changes": {
            "max_occlusion": "A-Net's occlusion budget is the one in this model's training command, not our default "
                             "0.4: a larger one hid more of the fine-tuned features than H-Net learned past in ten "
                             "epochs.",
            "augment": "H-Net also sees each labelled image's flipped and shifted view half the time (`augment`, "
                       "ours), as DSH-GAN's and FakeReg's hashing networks do.",
            "instance_bits": INSTANCE_BITS_CHANGE, "feature_bits": FEATURE_BITS_CHANGE},
        "reported": {},
    },
}

# protocol used for Fashion-MNIST releases (one protocol for every method)
FASHION_PROTOCOL = "fashion_mnist-59k"
