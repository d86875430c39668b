"""SCAC-MultiRes: a multi-resolution CNN (FFT + three STFT branches) trained with sub-cluster AdaCos on every
machine type of a dataset, scored by kNN with SMOTE; a port of ASDKit's ``dis_multispec_scac_trainable``."""
