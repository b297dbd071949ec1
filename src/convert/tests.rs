//! Unit tests of the convert room's plan and its closed sets (split out of mod.rs).

use super::*;

fn v(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn pdf_to_a_pdf_printer_passes_through() {
    let plan = plan(
        "application/pdf",
        &v(&["application/pdf", "image/urf"]),
        None,
        &JobLook::default(),
        true,
    );
    assert_eq!(plan, Ok(Plan::PassThrough));
}

#[test]
fn octet_stream_beside_named_formats_does_not_take_everything() {
    let Ok(Plan::Convert(spec)) = plan(
        "application/pdf",
        &v(&["application/octet-stream", "image/pwg-raster"]),
        None,
        &JobLook::default(),
        true,
    ) else {
        panic!("expected a conversion");
    };
    assert_eq!(spec.to, Format::PwgRaster);
    let alone = plan(
        "application/pdf",
        &v(&["application/octet-stream"]),
        None,
        &JobLook::default(),
        true,
    );
    assert_eq!(alone, Ok(Plan::PassThrough));
}

#[test]
fn unknown_formats_pass_through_as_before() {
    let plan = plan("application/pdf", &[], None, &JobLook::default(), true);
    assert_eq!(plan, Ok(Plan::PassThrough));
}

#[test]
fn raster_only_printers_get_pwg_before_urf_before_jpeg() {
    let accepted = v(&["image/jpeg", "image/urf", "image/pwg-raster"]);
    let Ok(Plan::Convert(spec)) = plan(
        "application/pdf",
        &accepted,
        None,
        &JobLook::default(),
        true,
    ) else {
        panic!("expected a conversion");
    };
    assert_eq!(spec.to, Format::PwgRaster);
    let Ok(Plan::Convert(spec)) = plan(
        "application/pdf",
        &v(&["image/jpeg", "image/urf"]),
        None,
        &JobLook::default(),
        true,
    ) else {
        panic!("expected a conversion");
    };
    assert_eq!(spec.to, Format::Urf);
}

#[test]
fn grey_is_made_even_when_the_format_passes() {
    let look = JobLook {
        gray: true,
        ..JobLook::default()
    };
    let Ok(Plan::Convert(spec)) = plan(
        "application/pdf",
        &v(&["application/pdf"]),
        None,
        &look,
        true,
    ) else {
        panic!("expected a conversion");
    };
    assert_eq!(
        (spec.from, spec.to, spec.gray),
        (Format::Pdf, Format::Pdf, true)
    );
}

#[test]
fn raw_printers_get_their_language_and_ranges_are_made_here() {
    let look = JobLook {
        page_ranges: Some(vec![(2, 3)]),
        ..JobLook::default()
    };
    let Ok(Plan::Convert(spec)) = plan(
        "application/pdf",
        &[],
        Some(PrinterLanguage::PclXl),
        &look,
        false,
    ) else {
        panic!("expected a conversion");
    };
    assert_eq!(spec.to, Format::PclXl);
    assert_eq!(spec.page_ranges, Some(vec![(2, 3)]));
    let same = plan(
        "application/postscript",
        &[],
        Some(PrinterLanguage::PostScript),
        &JobLook::default(),
        false,
    );
    assert_eq!(same, Ok(Plan::PassThrough));
}

#[test]
fn nothing_in_common_is_a_clear_refusal() {
    let refused = plan(
        "application/pdf",
        &v(&["application/x-foo"]),
        None,
        &JobLook::default(),
        true,
    );
    assert!(
        matches!(refused, Err(ConvertError::Unsupported(_))),
        "{refused:?}"
    );
}

#[test]
fn reported_languages_are_proposed_postscript_first_pcl5_last() {
    use PrinterLanguage::*;
    assert_eq!(
        PrinterLanguage::best_first(&[Pcl5, PclXl, Pdf, PostScript, PclXl]),
        vec![PostScript, PclXl, Pdf, Pcl5]
    );
    assert_eq!(
        PrinterLanguage::best_first(&[Pcl5, PclXl]),
        vec![PclXl, Pcl5]
    );
    assert_eq!(
        PrinterLanguage::parse_list("pclxl, nonsense,pcl5"),
        vec![PclXl, Pcl5]
    );
    assert_eq!(
        PrinterLanguage::list_text(&[PostScript, Pcl5]),
        "postscript,pcl5"
    );
}

#[test]
fn formats_and_languages_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::from_mime(f.mime()), Some(f));
    }
    assert_eq!(Format::from_mime("Application/PDF; x=y"), Some(Format::Pdf));
    for l in PrinterLanguage::ALL {
        assert_eq!(l.as_str().parse::<PrinterLanguage>(), Ok(l));
    }
    assert!("pcl7".parse::<PrinterLanguage>().is_err());
}
