//! The ascent as an animation: the picture every k steps, each frame captioned with its step number, written as an
//! animated PNG (APNG: every current browser plays it; a viewer without APNG support shows the first frame).
//!
//! Memory stays bounded however long the run: when the frames would pass their budget, every other frame goes and
//! k doubles, so the animation always spans the whole run, at a coarser pace.

use crate::picture::image::{GLYPH_HEIGHT, Rgba, text_width};

/// An animation's frames over a run, by default: a frame every `steps / FRAMES` steps (rounded up).
pub const FRAMES: usize = 60;

/// The most bytes of frames one animation keeps (the page's and the CLI's).
pub const BUDGET_BYTES: usize = 64 << 20;

/// How long each frame shows, and the last one (the finished picture), in milliseconds.
pub const FRAME_MILLIS: u16 = 80;
pub const LAST_FRAME_MILLIS: u16 = 2000;

/// Frames of one run, recorded as its steps are painted.
#[derive(Debug, Clone)]
pub struct Animation {
    /// A frame every `every` steps (and the first and last step's).
    every: usize,
    /// The most bytes of frames kept (each frame RGBA8, its caption strip included).
    budget: usize,
    /// `(step, frame)`, in step order.
    frames: Vec<(usize, Rgba)>,
}

impl Animation {
    /// A frame every `every` steps (at least 1), within `budget` bytes (at least two frames are always kept).
    pub fn new(every: usize, budget: usize) -> Self {
        Self { every: every.max(1), budget, frames: Vec::new() }
    }

    /// The step interval between frames now (it doubles when the budget is reached).
    pub fn every(&self) -> usize {
        self.every
    }

    /// Whether the picture after step `step` (1 after the first step) belongs in the animation: the first step's,
    /// every `every`-th, and the last one's (`done`).
    pub fn wants(&self, step: usize, done: bool) -> bool {
        step == 1 || step.is_multiple_of(self.every) || done
    }

    /// Records `picture` as the frame of step `step`, with the step number in a strip below it. A step recorded
    /// again (a run continued from its last picture) replaces its frame.
    pub fn record(&mut self, step: usize, picture: &Rgba) {
        self.frames.retain(|(s, _)| *s < step);
        self.frames.push((step, captioned(picture, &format!("step {step}"))));
        let frame_bytes = self.frames[0].1.pixels.len();
        while self.frames.len() > 2 && self.frames.len() * frame_bytes > self.budget {
            self.every *= 2;
            let every = self.every;
            let last = self.frames.len() - 1;
            // Keep the first frame, the newest, and those on the new interval.
            let mut index = 0;
            self.frames.retain(|(s, _)| {
                let keep = index == 0 || index == last || s.is_multiple_of(every);
                index += 1;
                keep
            });
        }
    }

    /// The frames so far, `(step, frame)` in step order.
    pub fn frames(&self) -> &[(usize, Rgba)] {
        &self.frames
    }

    /// The animated PNG: each frame [`FRAME_MILLIS`], the last [`LAST_FRAME_MILLIS`], looping. None before the first
    /// frame.
    pub fn to_apng(&self) -> Option<Vec<u8>> {
        let (_, first) = self.frames.first()?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, first.width as u32, first.height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_animated(self.frames.len() as u32, 0).expect("at least one frame");
        encoder.set_frame_delay(FRAME_MILLIS, 1000).expect("a valid delay");
        let mut writer = encoder.write_header().expect("writing PNG to memory cannot fail");
        for (index, (_, frame)) in self.frames.iter().enumerate() {
            if index + 1 == self.frames.len() {
                writer.set_frame_delay(LAST_FRAME_MILLIS, 1000).expect("a valid delay");
            }
            writer.write_image_data(&frame.pixels).expect("every frame has the first one's size");
        }
        writer.finish().expect("writing PNG to memory cannot fail");
        Some(out)
    }
}

/// The font's scale for a caption under a picture `width` pixels wide: larger pictures get larger text.
pub fn caption_scale(width: usize) -> usize {
    (width / 112).max(1)
}

/// `picture` with a white strip below it holding `caption`, centred (or as much of it as fits, from the left).
pub fn captioned(picture: &Rgba, caption: &str) -> Rgba {
    let scale = caption_scale(picture.width);
    let strip = (GLYPH_HEIGHT + 4) * scale;
    let mut out = Rgba {
        width: picture.width,
        height: picture.height + strip,
        pixels: vec![255; 4 * picture.width * (picture.height + strip)],
    };
    out.pixels[..picture.pixels.len()].copy_from_slice(&picture.pixels);
    let width = text_width(caption).map_or(0, |w| w * scale);
    let x = picture.width.saturating_sub(width) / 2;
    out.draw_text(caption, x, picture.height + 2 * scale, scale);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(shade: u8) -> Rgba {
        Rgba { width: 8, height: 8, pixels: vec![shade; 4 * 64] }
    }

    #[test]
    fn frames_every_k_steps_the_first_and_the_last() {
        let animation = Animation::new(5, usize::MAX);
        let wanted: Vec<usize> = (1..=12).filter(|&s| animation.wants(s, s == 12)).collect();
        assert_eq!(wanted, [1, 5, 10, 12]);
    }

    #[test]
    fn the_budget_thins_the_frames_and_keeps_the_whole_run() {
        let frame = captioned(&picture(0), "step 1").pixels.len();
        let mut animation = Animation::new(1, 10 * frame);
        for step in 1..=100 {
            if animation.wants(step, step == 100) {
                animation.record(step, &picture(step as u8));
            }
        }
        let steps: Vec<usize> = animation.frames().iter().map(|(s, _)| *s).collect();
        assert!(steps.len() <= 10 && steps.len() >= 5, "{steps:?}");
        assert_eq!(steps[0], 1);
        assert_eq!(*steps.last().unwrap(), 100);
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order: {steps:?}");
        assert_eq!(animation.every(), 16, "{steps:?}");
        // The whole run at the coarser pace: no gap wider than the final interval.
        assert!(steps.windows(2).all(|w| w[1] - w[0] <= 16), "{steps:?}");
    }

    #[test]
    fn a_continued_run_replaces_its_last_frame() {
        let mut animation = Animation::new(10, usize::MAX);
        animation.record(1, &picture(1));
        animation.record(10, &picture(2));
        animation.record(10, &picture(3));
        let steps: Vec<usize> = animation.frames().iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, [1, 10]);
        assert_eq!(animation.frames()[1].1.pixels[0], 3);
    }
}
