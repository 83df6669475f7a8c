//! Updates: a resource's writable fields as a request sends them, and the stored fields
//! they go over. One mechanism for every resource whose update takes fields by mask: the
//! fields are declared once, in their struct, and `writable!` names them once more for
//! the mask.

/// The fields of a resource that callers write, as a request sends them, each of which an
/// update mask may name.
pub trait Writable: Clone {
    /// The fields an update mask may name, in the API's order.
    const UPDATABLE: &'static [&'static str];

    /// Puts `sent`'s field `path` over this one's; a path that is not one of
    /// [`UPDATABLE`](Writable::UPDATABLE) changes nothing.
    fn take(&mut self, sent: &Self, path: &str);
}

/// What an update sends: the resource's writable fields as sent, and the ones its mask
/// names. A field the mask does not name stays as stored, whatever the request sent in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch<F> {
    /// The fields as the request sent them.
    pub sent: F,
    /// The fields the mask names, each one of `F::UPDATABLE`.
    pub paths: Vec<&'static str>,
}

impl<F: Writable> Patch<F> {
    /// The fields as they will stand: `stored` with the named fields of `sent` over it.
    pub fn over(&self, mut stored: F) -> F {
        for path in &self.paths {
            stored.take(&self.sent, path);
        }
        stored
    }
}

/// Declares which fields of a `…Fields` struct an update mask may name, in the API's order:
/// `writable!(ProjectFields { display_name, description, … });`.
macro_rules! writable {
    ($fields:ty { $($field:ident),+ $(,)? }) => {
        impl $crate::domain::patch::Writable for $fields {
            const UPDATABLE: &'static [&'static str] = &[$(stringify!($field)),+];

            fn take(&mut self, sent: &Self, path: &str) {
                match path {
                    $(stringify!($field) => self.$field = sent.$field.clone(),)+
                    _ => {}
                }
            }
        }
    };
}
pub(crate) use writable;

#[cfg(test)]
mod tests {
    use super::{Patch, Writable};

    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    struct Fields {
        title: String,
        count: i32,
        tags: Vec<String>,
    }

    writable!(Fields { title, count, tags });

    #[test]
    fn only_the_named_fields_go_over_the_stored_ones() {
        let stored = Fields {
            title: "stored".to_owned(),
            count: 7,
            tags: vec!["a".to_owned()],
        };
        let patch = Patch {
            sent: Fields {
                title: "sent".to_owned(),
                count: 0,
                tags: Vec::new(),
            },
            paths: vec!["tags", "title"],
        };
        let now = patch.over(stored);
        assert_eq!(now.title, "sent");
        assert_eq!(now.count, 7, "a field the mask leaves out stays");
        assert!(
            now.tags.is_empty(),
            "an empty list sent and named clears it"
        );
        assert_eq!(Fields::UPDATABLE, ["title", "count", "tags"]);
    }

    #[test]
    fn a_path_that_is_not_a_field_changes_nothing() {
        let mut stored = Fields::default();
        let sent = Fields {
            count: 3,
            ..Fields::default()
        };
        stored.take(&sent, "etag");
        assert_eq!(stored, Fields::default());
    }
}
