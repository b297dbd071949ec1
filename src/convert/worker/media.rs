//! PWG 5101.1 media keywords (`iso_a4_210x297mm`, `na_letter_8.5x11in`) to a page
//! size in PostScript points: the last part of the keyword is the size.

/// (width, height) in points; `None` for a keyword without a readable size.
pub fn points(keyword: &str) -> Option<(u32, u32)> {
    let size = keyword.rsplit('_').next()?;
    let (numbers, per_unit) = if let Some(n) = size.strip_suffix("mm") {
        (n, 72.0 / 25.4)
    } else if let Some(n) = size.strip_suffix("in") {
        (n, 72.0)
    } else {
        return None;
    };
    let (w, h) = numbers.split_once('x')?;
    let w: f64 = w.parse().ok()?;
    let h: f64 = h.parse().ok()?;
    let to_points = |v: f64| {
        let p = (v * per_unit).round();
        // From a business card to a 5 m banner; anything else is a typo.
        (36.0..=14400.0).contains(&p).then_some(p as u32)
    };
    Some((to_points(w)?, to_points(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_give_points() {
        assert_eq!(points("iso_a4_210x297mm"), Some((595, 842)));
        assert_eq!(points("na_letter_8.5x11in"), Some((612, 792)));
        assert_eq!(points("iso_a3_297x420mm"), Some((842, 1191)));
        assert_eq!(points("custom_min_0x0mm"), None);
        assert_eq!(points("letter"), None);
        assert_eq!(points("x_1e9x2in"), None);
    }
}
