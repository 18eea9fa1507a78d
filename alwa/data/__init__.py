"""Datasets: the synthetic mini VOC, VOC/COCO download+verify, and dataset checks."""
