//! Painting pictures onto the worker's `OffscreenCanvas`, and keeping the last one for export.

use js_sys::Uint8ClampedArray;
use wasm_bindgen::{JsCast, JsError};
use web_sys::{ImageData, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

use crate::picture::image::Rgba;

pub struct Canvas {
    canvas: OffscreenCanvas,
    context: OffscreenCanvasRenderingContext2d,
    /// The picture on the canvas, full resolution (kept after the run stops).
    picture: Option<Rgba>,
}

impl Canvas {
    pub fn new(canvas: OffscreenCanvas) -> Result<Self, JsError> {
        let context = canvas
            .get_context("2d")
            .map_err(|e| JsError::new(&format!("the canvas refused a 2d context: {e:?}")))?
            .ok_or_else(|| JsError::new("the canvas has no 2d context (is another context in use?)"))?
            .dyn_into::<OffscreenCanvasRenderingContext2d>()
            .map_err(|_| JsError::new("the canvas's 2d context is not an OffscreenCanvasRenderingContext2d"))?;
        Ok(Self { canvas, context, picture: None })
    }

    /// A new picture of this size is coming: the canvas takes its size and forgets the old one.
    pub fn resize(&mut self, width: usize, height: usize) {
        self.canvas.set_width(width as u32);
        self.canvas.set_height(height as u32);
        self.picture = None;
    }

    pub fn paint(&mut self, picture: Rgba) -> Result<(), JsError> {
        let (width, height) = (picture.width as u32, picture.height as u32);
        // A copy into JS memory: ImageData refuses a view of the threaded build's shared wasm memory.
        let pixels = Uint8ClampedArray::new_with_length(picture.pixels.len() as u32);
        pixels.copy_from(&picture.pixels);
        let data = ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width, height)
            .map_err(|e| JsError::new(&format!("could not make ImageData: {e:?}")))?;
        self.context
            .put_image_data(&data, 0.0, 0.0)
            .map_err(|e| JsError::new(&format!("could not paint the canvas: {e:?}")))?;
        self.picture = Some(picture);
        Ok(())
    }

    /// The picture on the canvas as PNG file bytes.
    pub fn png(&self) -> Option<Vec<u8>> {
        self.picture.as_ref().map(Rgba::to_png)
    }
}
