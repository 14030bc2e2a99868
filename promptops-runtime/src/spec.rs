//! The typed handle generated code returns, and the traits that tie a prompt's
//! variables and output type to it.

use std::fmt;
use std::marker::PhantomData;

use crate::def::PromptDef;

/// Compile-time contract of one prompt: which variables it takes and what its output parses into.
///
/// Generated crates implement this on a zero-sized marker type per prompt
/// (`prompts::customer_support::intent_classifier::Spec`). The definition itself travels with
/// the [`Prompt`] handle.
pub trait PromptSpec: 'static {
    /// The variables the template needs: a generated `Vars<'a>` struct, or [`NoVars`].
    type Vars<'a>: TemplateVars;
    /// What a completion parses into: a generated label enum, or [`String`] for free text.
    type Output: PromptOutput;
}

/// A value handed to the template renderer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VarValue<'a> {
    /// A `string` variable.
    String(&'a str),
    /// An `integer` variable.
    Integer(i64),
    /// A `number` variable.
    Number(f64),
    /// A `boolean` variable.
    Boolean(bool),
    /// A `list` variable.
    List(&'a [&'a str]),
}

/// Something that can hand its variables to the renderer, one by one.
///
/// Optional fields that are `None` are simply not visited (the declared default then applies).
/// Generated `Vars` structs get this impl from the runtime (see [`GeneratedVars`]); implement
/// it by hand for variables assembled another way (as [`DynVars`](crate::DynVars) does).
pub trait TemplateVars {
    /// Calls `visit` once per supplied variable of `def`, the prompt being rendered.
    fn visit(&self, def: &PromptDef, visit: &mut dyn FnMut(&'static str, VarValue<'_>));
}

/// The contract of a generated `Vars` struct, which lets the runtime read its fields without
/// any generated code: rustc then has no function to check per prompt (`BENCHMARKS.md`, "Build
/// time"). Not a public API.
///
/// # Safety
/// The implementing struct is `#[repr(C)]` and has exactly one field per entry of `Fields`, in
/// that order, each of the type the marker names ([`field`] lists them: `Str` is `&str`,
/// `OptStr` is `Option<&str>`, `Int` is `i64`, `List` is `&[&str]`, ...).
#[doc(hidden)]
pub unsafe trait GeneratedVars {
    /// The field types, as a list: `(Str, (OptInt, ()))`.
    type Fields: field::FieldList;
}

impl<T: GeneratedVars> TemplateVars for T {
    /// Visits the fields in declaration order, named after `def`'s variables (generated code
    /// declares them in the same order).
    fn visit(&self, def: &PromptDef, visit: &mut dyn FnMut(&'static str, VarValue<'_>)) {
        let size = field::struct_size::<T::Fields>();
        assert_eq!(
            size,
            std::mem::size_of::<T>(),
            "generated Vars do not match their field list (promptops-build and promptops-runtime \
             of different versions?)"
        );
        let mut names = def.variables.iter().map(|var| var.name);
        // SAFETY: `T: GeneratedVars` promises a `#[repr(C)]` struct whose fields are exactly
        // `T::Fields`; the walk computes `#[repr(C)]` offsets for those types and reads each
        // field (all `Copy`) through a pointer derived from `&self`, which outlives the reads.
        unsafe {
            <T::Fields as field::FieldList>::visit(
                (self as *const T).cast::<u8>(),
                0,
                &mut names,
                visit,
            );
        }
    }
}

/// Field markers for [`GeneratedVars`]: one per type a generated `Vars` field can have.
#[doc(hidden)]
pub mod field {
    use super::VarValue;

    // Only this module's markers and lists implement `Field` and `FieldList`: their sizes and
    // alignments are what the unsafe field walk relies on, so no other crate may supply them.
    mod sealed {
        pub trait Sealed {}
    }
    use sealed::Sealed;

    /// The Rust type behind a marker, and how to hand its value to the renderer.
    pub trait Field: Sealed {
        /// `size_of` the field's type.
        const SIZE: usize;
        /// `align_of` the field's type.
        const ALIGN: usize;
        /// Reads the field at `ptr`.
        ///
        /// # Safety
        /// `ptr` points to a live, aligned value of the field's type that outlives `'a`.
        unsafe fn read<'a>(ptr: *const u8) -> Option<VarValue<'a>>;
    }

    /// A list of field markers: `()` or `(Field, FieldList)`.
    pub trait FieldList: Sealed {
        /// The largest alignment in the list (1 for the empty list).
        const ALIGN: usize;
        /// The `#[repr(C)]` offset after the last field, for fields starting at `offset`.
        fn end(offset: usize) -> usize;
        /// Visits the fields of a `#[repr(C)]` struct at `base`, starting at byte `offset`;
        /// returns the offset after the last field.
        ///
        /// # Safety
        /// `base` points to a live `#[repr(C)]` struct whose fields from `offset` on are this
        /// list's types, in order.
        unsafe fn visit(
            base: *const u8,
            offset: usize,
            names: &mut dyn Iterator<Item = &'static str>,
            visit: &mut dyn FnMut(&'static str, VarValue<'_>),
        ) -> usize;
    }

    impl Sealed for () {}
    impl<F: Field, Rest: FieldList> Sealed for (F, Rest) {}

    impl FieldList for () {
        const ALIGN: usize = 1;
        fn end(offset: usize) -> usize {
            offset
        }
        unsafe fn visit(
            _base: *const u8,
            offset: usize,
            _names: &mut dyn Iterator<Item = &'static str>,
            _visit: &mut dyn FnMut(&'static str, VarValue<'_>),
        ) -> usize {
            offset
        }
    }

    impl<F: Field, Rest: FieldList> FieldList for (F, Rest) {
        const ALIGN: usize = if F::ALIGN > Rest::ALIGN {
            F::ALIGN
        } else {
            Rest::ALIGN
        };
        fn end(offset: usize) -> usize {
            Rest::end(offset.next_multiple_of(F::ALIGN) + F::SIZE)
        }
        unsafe fn visit(
            base: *const u8,
            offset: usize,
            names: &mut dyn Iterator<Item = &'static str>,
            visit: &mut dyn FnMut(&'static str, VarValue<'_>),
        ) -> usize {
            let at = offset.next_multiple_of(F::ALIGN);
            // SAFETY: the caller promises a field of `F`'s type at this `#[repr(C)]` offset.
            let value = unsafe { F::read(base.add(at)) };
            if let (Some(name), Some(value)) = (names.next(), value) {
                visit(name, value);
            }
            // SAFETY: the rest of the fields follow, per the caller's promise.
            unsafe { Rest::visit(base, at + F::SIZE, names, visit) }
        }
    }

    /// `size_of` a `#[repr(C)]` struct with `L`'s fields.
    pub fn struct_size<L: FieldList>() -> usize {
        L::end(0).next_multiple_of(L::ALIGN)
    }

    macro_rules! fields {
        ($lt:lifetime => $($marker:ident $optional:ident: $ty:ty => $variant:ident;)*) => {$(
            #[doc = concat!("A `", stringify!($ty), "` field.")]
            pub enum $marker {}
            impl Sealed for $marker {}
            impl Field for $marker {
                const SIZE: usize = {
                    // The lifetime names `'a` in the field type; it is unused for `i64` etc.
                    #[allow(clippy::extra_unused_lifetimes)]
                    const fn size<$lt>() -> usize {
                        std::mem::size_of::<$ty>()
                    }
                    size()
                };
                const ALIGN: usize = {
                    #[allow(clippy::extra_unused_lifetimes)]
                    const fn align<$lt>() -> usize {
                        std::mem::align_of::<$ty>()
                    }
                    align()
                };
                unsafe fn read<$lt>(ptr: *const u8) -> Option<VarValue<$lt>> {
                    // SAFETY: per this method's contract.
                    Some(VarValue::$variant(unsafe { *ptr.cast::<$ty>() }))
                }
            }
            #[doc = concat!("An `Option<", stringify!($ty), ">` field.")]
            pub enum $optional {}
            impl Sealed for $optional {}
            impl Field for $optional {
                const SIZE: usize = {
                    // The lifetime names `'a` in the field type; it is unused for `i64` etc.
                    #[allow(clippy::extra_unused_lifetimes)]
                    const fn size<$lt>() -> usize {
                        std::mem::size_of::<Option<$ty>>()
                    }
                    size()
                };
                const ALIGN: usize = {
                    #[allow(clippy::extra_unused_lifetimes)]
                    const fn align<$lt>() -> usize {
                        std::mem::align_of::<Option<$ty>>()
                    }
                    align()
                };
                unsafe fn read<$lt>(ptr: *const u8) -> Option<VarValue<$lt>> {
                    // SAFETY: per this method's contract.
                    unsafe { *ptr.cast::<Option<$ty>>() }.map(VarValue::$variant)
                }
            }
        )*};
    }

    fields! {
        'a =>
        Str OptStr: &'a str => String;
        Int OptInt: i64 => Integer;
        Num OptNum: f64 => Number;
        Bool OptBool: bool => Boolean;
        List OptList: &'a [&'a str] => List;
    }
}

/// The variables of a prompt whose template uses none: the caller's input is the user turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoVars;

impl TemplateVars for NoVars {
    fn visit(&self, _def: &PromptDef, _visit: &mut dyn FnMut(&'static str, VarValue<'_>)) {}
}

/// A completion that is not one of the prompt's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedOutput {
    /// The model's text, untouched.
    pub raw: String,
    /// The labels that would have been accepted.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnexpectedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model output {:?} is not one of the labels [{}]",
            self.raw,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnexpectedOutput {}

/// What a prompt's completion is parsed into.
pub trait PromptOutput: Sized {
    /// Parses the model's text.
    fn from_completion(text: &str) -> Result<Self, UnexpectedOutput>;
}

impl PromptOutput for String {
    fn from_completion(text: &str) -> Result<Self, UnexpectedOutput> {
        Ok(text.to_owned())
    }
}

/// The position in `labels` of the label a model's `text` names. Surrounding whitespace and
/// ASCII punctuation are ignored, and so is ASCII case (`" Billing.\n"` names `billing`). Every
/// classifier output is read by this one rule: generated enums, [`PromptDef::parse_label`](crate::PromptDef::parse_label),
/// batch jobs and the eval gate.
pub fn label_position(labels: &[&str], text: &str) -> Option<usize> {
    let cleaned = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    labels
        .iter()
        .position(|label| label.eq_ignore_ascii_case(cleaned))
}

/// A generated classifier enum: one variant per declared `output.labels` entry.
pub trait Label: Copy + Eq + fmt::Debug + 'static {
    /// The labels as written in the prompt file, in variant order.
    const LABELS: &'static [&'static str];
    /// Every variant, in the same order as [`LABELS`](Self::LABELS).
    const VARIANTS: &'static [Self];

    /// The label as written in the prompt file.
    fn as_str(self) -> &'static str {
        let index = Self::VARIANTS
            .iter()
            .position(|variant| *variant == self)
            .unwrap_or_default();
        Self::LABELS[index]
    }

    /// Parses model output by [`label_position`]'s rule.
    fn parse_label(text: &str) -> Result<Self, UnexpectedOutput> {
        label_position(Self::LABELS, text)
            .and_then(|index| Self::VARIANTS.get(index).copied())
            .ok_or_else(|| UnexpectedOutput {
                raw: text.to_owned(),
                expected: Self::LABELS,
            })
    }
}

// One blanket impl instead of one per generated enum: a crate with hundreds of classifier
// prompts would otherwise monomorphise `parse_label` once per enum inside the prompts crate.
impl<L: Label> PromptOutput for L {
    fn from_completion(text: &str) -> Result<Self, UnexpectedOutput> {
        L::parse_label(text)
    }
}

/// A typed handle on one compiled-in prompt.
///
/// Obtained from a generated function such as `prompts::customer_support::intent_classifier()`.
/// It is `Copy` and costs one pointer; the type parameter carries the variables and output
/// contract, so passing the wrong `Vars` is a type error at the call site.
pub struct Prompt<S: PromptSpec> {
    def: &'static PromptDef,
    spec: PhantomData<fn() -> S>,
}

impl<S: PromptSpec> Prompt<S> {
    /// Creates the handle for `def`, which must be the definition `S` was generated for.
    /// Generated handle functions call this; users call those functions. Not a public API.
    #[doc(hidden)]
    #[inline]
    pub const fn __new(def: &'static PromptDef) -> Self {
        Prompt {
            def,
            spec: PhantomData,
        }
    }

    /// The prompt's static description (id, version, owner, model, template, ...).
    pub const fn def(&self) -> &'static PromptDef {
        self.def
    }

    /// Dotted id.
    pub const fn id(&self) -> &'static str {
        self.def.id
    }

    /// Version number.
    pub const fn version(&self) -> u32 {
        self.def.version
    }

    /// SHA-256 of the prompt file.
    pub const fn content_hash(&self) -> &'static str {
        self.def.content_hash
    }

    /// Parses a completion into this prompt's output type.
    pub fn parse_output(&self, text: &str) -> Result<S::Output, UnexpectedOutput> {
        S::Output::from_completion(text)
    }
}

impl<S: PromptSpec> Clone for Prompt<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: PromptSpec> Copy for Prompt<S> {}

impl<S: PromptSpec> fmt::Debug for Prompt<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("id", &self.def.id)
            .field("version", &self.def.version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mood {
        Happy,
        Sad,
    }

    impl Label for Mood {
        const LABELS: &'static [&'static str] = &["happy", "sad"];
        const VARIANTS: &'static [Self] = &[Mood::Happy, Mood::Sad];
    }

    #[test]
    fn labels_parse_case_insensitively_and_trimmed() {
        assert_eq!(Mood::parse_label("  Happy.\n"), Ok(Mood::Happy));
        assert_eq!(Mood::parse_label("SAD"), Ok(Mood::Sad));
        assert_eq!(Mood::Sad.as_str(), "sad");
    }

    // The shape promptops-build generates: `#[repr(C)]`, the field list in the same order.
    #[repr(C)]
    struct Generated<'a> {
        name: &'a str,
        count: Option<i64>,
        tags: Option<&'a [&'a str]>,
        flag: bool,
        ratio: Option<f64>,
        items: &'a [&'a str],
        note: Option<&'a str>,
        on: Option<bool>,
        n: i64,
        x: f64,
    }

    // SAFETY: `#[repr(C)]`, and the list names each field's type in declaration order.
    unsafe impl GeneratedVars for Generated<'_> {
        type Fields = (
            field::Str,
            (
                field::OptInt,
                (
                    field::OptList,
                    (
                        field::Bool,
                        (
                            field::OptNum,
                            (
                                field::List,
                                (
                                    field::OptStr,
                                    (field::OptBool, (field::Int, (field::Num, ()))),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        );
    }

    static NAMES: [crate::def::VarDef; 10] = {
        let var = crate::def::VAR_DEF;
        [
            crate::def::VarDef {
                name: "name",
                ..var
            },
            crate::def::VarDef {
                name: "count",
                ..var
            },
            crate::def::VarDef {
                name: "tags",
                ..var
            },
            crate::def::VarDef {
                name: "flag",
                ..var
            },
            crate::def::VarDef {
                name: "ratio",
                ..var
            },
            crate::def::VarDef {
                name: "items",
                ..var
            },
            crate::def::VarDef {
                name: "note",
                ..var
            },
            crate::def::VarDef { name: "on", ..var },
            crate::def::VarDef { name: "n", ..var },
            crate::def::VarDef { name: "x", ..var },
        ]
    };
    static DEF: PromptDef = PromptDef {
        variables: &NAMES,
        ..crate::def::PROMPT_DEF
    };

    fn visited(vars: &dyn TemplateVars) -> Vec<String> {
        let mut seen = Vec::new();
        vars.visit(&DEF, &mut |name, value| {
            seen.push(format!("{name}={value:?}"))
        });
        seen
    }

    #[test]
    fn generated_vars_are_read_by_their_field_list_and_unset_options_skipped() {
        let list = ["a", "b"];
        let vars = Generated {
            name: "Ada",
            count: None,
            tags: Some(&["t"]),
            flag: true,
            ratio: Some(0.5),
            items: &list,
            note: None,
            on: Some(false),
            n: -7,
            x: 1.25,
        };
        assert_eq!(
            field::struct_size::<<Generated<'_> as GeneratedVars>::Fields>(),
            std::mem::size_of::<Generated<'_>>()
        );
        assert_eq!(
            visited(&vars),
            [
                "name=String(\"Ada\")",
                "tags=List([\"t\"])",
                "flag=Boolean(true)",
                "ratio=Number(0.5)",
                "items=List([\"a\", \"b\"])",
                "on=Boolean(false)",
                "n=Integer(-7)",
                "x=Number(1.25)",
            ]
        );
        assert!(visited(&NoVars).is_empty());
    }

    #[repr(C)]
    struct Mismatched {
        flag: bool,
    }

    // SAFETY: deliberately wrong, to show the size check stops the walk before any read.
    unsafe impl GeneratedVars for Mismatched {
        type Fields = (field::Str, ());
    }

    #[test]
    #[should_panic(expected = "generated Vars do not match their field list")]
    fn a_field_list_of_another_size_is_refused_before_reading() {
        visited(&Mismatched { flag: true });
    }

    #[test]
    fn one_rule_reads_every_label() {
        let labels = ["billing", "other"];
        assert_eq!(label_position(&labels, " Billing.\n"), Some(0));
        assert_eq!(label_position(&labels, "\"other\""), Some(1));
        assert_eq!(label_position(&labels, "billing please"), None);
        assert_eq!(label_position(&labels, ""), None);
        assert_eq!(Mood::parse_label(" SAD!"), Ok(Mood::Sad));
    }

    #[test]
    fn unknown_label_keeps_raw_text() {
        let err = Mood::parse_label("ecstatic!").unwrap_err();
        assert_eq!(err.raw, "ecstatic!");
        assert_eq!(err.expected, &["happy", "sad"]);
        assert!(err.to_string().contains("[happy, sad]"));
    }
}
