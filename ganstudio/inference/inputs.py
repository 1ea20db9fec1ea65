"""What a network is fed for one photo: the one rule that renders and analyses share.

A `full` filter's network sees the whole photo fitted to the input size (render_spec.prepare_input);
a `face` filter's sees each face's eyes-level crop (faces/crops.py), largest face first. The
4-channel eye mask is fitted or cut exactly like the pixels. `NetworkInput.place` maps any other
photo-sized layer (an analysis's target region) into the same input pixels.
"""

from dataclasses import dataclass

from PIL import Image

from ganstudio.faces.crops import Crop, cut, face_crop
from ganstudio.faces.face import Face
from ganstudio.inference.render_spec import (
    FaceSettings,
    PipelineSettings,
    RenderError,
    prepare_input,
)


@dataclass(frozen=True)
class NetworkInput:
    """One input of the network: its RGB image, its mask (4-channel versions), and, on the face
    pipeline, the crop of the photo it was cut with (None: the whole photo, fitted)."""

    image: Image.Image
    mask: Image.Image | None
    crop: Crop | None = None

    def place(self, layer: Image.Image) -> Image.Image:
        """A photo-sized layer (e.g. an "F" or "L" region) as this input's pixels."""
        if self.crop is not None:
            return cut(layer, self.crop, self.image.width)
        return layer.resize(self.image.size, Image.Resampling.BILINEAR)


def whole_photo_input(
    rgb: Image.Image, *, settings: PipelineSettings, input_channels: int, mask: Image.Image | None
) -> NetworkInput:
    """The `full` pipeline's input: the photo fitted to the input size, and its mask."""
    image, fitted_mask = prepare_input(
        rgb, settings=settings, input_channels=input_channels, mask=mask
    )
    return NetworkInput(image, fitted_mask)


def face_inputs(
    rgb: Image.Image,
    *,
    found: list[Face],
    eyes: Image.Image | None,
    face: FaceSettings,
    size: int,
) -> list[NetworkInput]:
    """The `face` pipeline's inputs: each chosen face's crop (largest first), and the whole
    photo's eye mask cut the same way (each crop sees every eye in it); [] when no face."""
    chosen = found[:1] if face.faces == "largest" else found[: face.max_faces]
    inputs = []
    for one in chosen:
        try:
            crop = face_crop(one, margin=face.margin, align=face.align)
        except ValueError as exc:
            raise RenderError(
                f"A face in this image has no usable landmarks ({exc}); the face pipeline "
                "cannot crop it. Use a clearer photo of the face."
            ) from None
        crop_mask = cut(eyes, crop, size) if eyes is not None else None
        inputs.append(NetworkInput(cut(rgb, crop, size), crop_mask, crop))
    return inputs
