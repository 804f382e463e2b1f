//! JSON records over the [`Store`]: decode, encode and conditional update.
//!
//! A conditional write ([`swap`], [`update`]) stamps the record with a member `"_w"`
//! holding 64 random bits, so the bytes it writes are its own: reading them back proves
//! the write landed, on backends whose swap reports nothing useful (Spin's Redis store;
//! docs/storage.md). Decoders ignore the member; unconditional writes leave it out.

use crate::error::DomainError;
use crate::store::{Store, swap_checked};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How many times a conditional update re-reads and retries after losing a race.
pub const CAS_ATTEMPTS: usize = 64;

/// Decodes the record stored at `key`.
///
/// A record is a JSON object: its type is asked for as a map (serde's derived decoder
/// for a struct also accepts an array of its fields, which no record is), so the array
/// half of each record type's decoder is never compiled into a component. Struct fields
/// of records mark themselves with [`object`] or [`optional_object`] for the same
/// reason.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, DomainError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(ObjectOnly(&mut de)).map_err(|e| corrupt(key, &e))?;
    de.end().map_err(|e| corrupt(key, &e))?;
    Ok(value)
}

/// A record that does not decode (or encode) as its type: compiled once, not in every
/// record type's decoder.
#[inline(never)]
fn corrupt(key: &str, e: &serde_json::Error) -> DomainError {
    DomainError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    }
}

/// Decodes a struct field of a record as a JSON object only (`#[serde(deserialize_with
/// = "crate::records::object")]`; see [`decode`]).
pub(crate) fn object<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    T::deserialize(ObjectOnly(d))
}

/// [`object`] for an optional struct field (`null` is `None`; give the field
/// `#[serde(default)]` so an absent one is too).
pub(crate) fn optional_object<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    /// `T` decoded through [`object`].
    struct Object<T>(T);
    impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            object(d).map(Object)
        }
    }
    Ok(<Option<Object<T>> as serde::Deserialize<'de>>::deserialize(d)?.map(|o| o.0))
}

/// Forwards each named `deserialize_*` method (a visitor its only argument) to the
/// inner deserializer's method of the same name.
macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.0.$method(v)
        }
    )*};
}

/// A deserializer that reads a struct as a map only, so a JSON array in its place is
/// refused (`invalid type: sequence, expected struct …`) and the array half of serde's
/// derived decoder is never compiled in; every other request is the inner deserializer's
/// own. It applies to the value it wraps, not to the structs nested in it (see
/// [`decode`]). Used for records and for request bodies (`roster_api::parse_json`).
pub struct ObjectOnly<D>(pub D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_map(v)
    }

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: serde::de::Visitor<'de>>(
        self,
        len: usize,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, v)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// Encodes a record. Our records are plain data (no maps with non-string keys), so
/// encoding cannot fail; a failure would be a programming error reported as corrupt.
pub fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, DomainError> {
    serde_json::to_vec(value).map_err(|e| corrupt(key, &e))
}

/// Reads and decodes the record at `key`.
pub async fn read<S: Store, T: DeserializeOwned>(
    store: &S,
    key: &str,
) -> Result<Option<T>, DomainError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => decode(key, &bytes).map(Some),
    }
}

/// Encodes and writes the record at `key` unconditionally.
///
/// Encodes when called (callers await at once); the write itself is one compiled
/// future for every record type.
pub fn write<S: Store, T: Serialize>(
    store: &S,
    key: &str,
    value: &T,
) -> impl Future<Output = Result<(), DomainError>> {
    write_encoded(store, key, encode(key, value))
}

async fn write_encoded<S: Store>(
    store: &S,
    key: &str,
    bytes: Result<Vec<u8>, DomainError>,
) -> Result<(), DomainError> {
    store.set(key, &bytes?).await?;
    Ok(())
}

/// Reads a counter written by [`Store::increment`] on any backend (0 when absent or not
/// an integer). A plain read: `increment(key, 0)` would be a write in Spin's SQLite store.
pub async fn read_counter<S: Store>(store: &S, key: &str) -> Result<i64, DomainError> {
    Ok(store
        .get(key)
        .await?
        .as_deref()
        .and_then(crate::store::decode_counter)
        .unwrap_or(0))
}

/// `json` (an encoded object) with a `"_w"` member of 64 random bits added, so that no
/// other writer's bytes can equal it.
fn stamp(mut json: Vec<u8>) -> Vec<u8> {
    let nonce = hex::encode(crate::ids::random_bytes::<8>());
    match json.pop() {
        Some(b'}') => {
            if json.len() > 1 {
                json.push(b',');
            }
            json.extend_from_slice(format!("\"_w\":\"{nonce}\"}}").as_bytes());
            json
        }
        // Not an object: written as it is (no record of ours is anything else).
        Some(other) => {
            json.push(other);
            json
        }
        None => json,
    }
}

/// Writes `value` at `key` if the key still holds what `cas` read, and tells whether it
/// did, on every backend ([`swap_checked`] over a stamped encoding).
///
/// Encodes when called (callers await at once); the swap itself is one compiled future
/// for every record type.
pub fn swap<S: Store, T: Serialize>(
    store: &S,
    key: &str,
    cas: S::Cas,
    value: &T,
) -> impl Future<Output = Result<bool, DomainError>> {
    swap_encoded(store, key, cas, encode(key, value).map(stamp))
}

async fn swap_encoded<S: Store>(
    store: &S,
    key: &str,
    cas: S::Cas,
    bytes: Result<Vec<u8>, DomainError>,
) -> Result<bool, DomainError> {
    Ok(swap_checked(store, key, cas, &bytes?).await?)
}

/// The result of [`update`].
#[derive(Debug)]
pub enum Updated<T> {
    /// The record was absent; nothing was written.
    Missing,
    /// `change` declined (returned `Ok(false)`); the record as read.
    Unchanged(T),
    /// The record as written.
    Written(T),
}

/// Conditionally updates an existing record: reads it, applies `change`, and swaps the
/// result in only if nobody wrote in between, retrying on a lost race. Never creates a
/// record (a swap on an absent key would be an unconditional upsert).
pub async fn update<S, T, E>(
    store: &S,
    key: &str,
    mut change: impl FnMut(&mut T) -> Result<bool, E>,
) -> Result<Updated<T>, E>
where
    S: Store,
    T: Serialize + DeserializeOwned,
    E: From<DomainError>,
{
    // One compiled read-swap loop for every record type ([`update_bytes`]): only the
    // decoding, the change and the encoding below are compiled per type (and the
    // closure is called through `dyn`, so not once per closure either). `result` holds
    // what `change` made of the record last read (`step` runs on every read).
    let mut result: Result<Updated<T>, E> = Ok(Updated::Missing);
    let outcome = update_bytes(store, key, &mut |current| {
        // Absent: never created (a swap on an absent key would be an upsert). Set on
        // every run: an earlier run's answer (a lost race) is not this read's.
        let Some(bytes) = current else {
            result = Ok(Updated::Missing);
            return None;
        };
        let mut value: T = match decode(key, bytes) {
            Ok(v) => v,
            Err(e) => {
                result = Err(e.into());
                return None;
            }
        };
        match change(&mut value) {
            Err(e) => {
                result = Err(e);
                None
            }
            Ok(false) => {
                result = Ok(Updated::Unchanged(value));
                None
            }
            Ok(true) => match encode(key, &value) {
                Ok(bytes) => {
                    result = Ok(Updated::Written(value));
                    Some(bytes)
                }
                Err(e) => {
                    result = Err(e.into());
                    None
                }
            },
        }
    })
    .await;
    match outcome {
        // `step` ran on the record last read: `result` says what `change` made of it
        // (absent, declined, failed, or written).
        Ok(()) => result,
        Err(e) => Err(e.into()),
    }
}

/// A step of [`update_bytes`]: from the encoding read (`None`: absent), the encoding to
/// write (`None`: stop, write nothing).
pub(crate) type BytesStep<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// The loop of [`update`] on encoded records: reads `key` with its CAS handle, asks
/// `step` for the new encoding of what it read (`None` read: the key is absent; `None`
/// answered: stop, write nothing), and swaps it in (stamped) if nobody wrote in
/// between, retrying on a lost race. `step` runs once per read, the last run is the
/// one that counts; a step that answers bytes for an absent key creates it (a swap on
/// an absent key: an upsert on Spin's SQLite store).
pub(crate) async fn update_bytes<S: Store>(
    store: &S,
    key: &str,
    step: &mut BytesStep<'_>,
) -> Result<(), DomainError> {
    for _ in 0..CAS_ATTEMPTS {
        let (cas, current) = store.cas(key).await?;
        let Some(next) = step(current.as_deref()) else {
            return Ok(());
        };
        if swap_checked(store, key, cas, &stamp(next)).await? {
            return Ok(());
        }
    }
    Err(DomainError::Store(crate::store::StoreError::new(format!(
        "too much contention updating {key}"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Rec {
        a: u8,
        b: Option<String>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Outer {
        #[serde(deserialize_with = "object")]
        one: Rec,
        #[serde(default, deserialize_with = "optional_object")]
        maybe: Option<Rec>,
    }

    #[test]
    fn struct_fields_marked_object_read_objects_null_and_absence_as_before() {
        let one = Rec { a: 1, b: None };
        let o: Outer = decode("k", br#"{"one":{"a":1},"maybe":{"a":2,"b":"y"}}"#).unwrap();
        assert_eq!(o.one, one);
        assert_eq!(
            o.maybe,
            Some(Rec {
                a: 2,
                b: Some("y".into())
            })
        );
        let o: Outer = decode("k", br#"{"one":{"a":1},"maybe":null}"#).unwrap();
        assert_eq!(o.maybe, None);
        let o: Outer = decode("k", br#"{"one":{"a":1}}"#).unwrap();
        assert_eq!(o.maybe, None);
        for bytes in [
            &br#"{"one":[1,null]}"#[..],
            br#"{"one":{"a":1},"maybe":[2,null]}"#,
            br#"{"maybe":null}"#,
        ] {
            assert!(
                matches!(
                    decode::<Outer>("k", bytes),
                    Err(DomainError::Corrupt { .. })
                ),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let Err(DomainError::Corrupt { reason, .. }) = decode::<Outer>("k", br#"{"maybe":null}"#)
        else {
            panic!("decoded without its field")
        };
        assert!(reason.starts_with("missing field `one`"), "{reason}");
    }

    #[test]
    fn decode_reads_objects_and_every_other_json_shape_as_before() {
        let rec: Rec = decode("k", br#"{"a":1,"b":"x","_w":"00"}"#).unwrap();
        assert_eq!(
            rec,
            Rec {
                a: 1,
                b: Some("x".into())
            }
        );
        assert_eq!(decode::<Vec<u8>>("k", b"[1,2]").unwrap(), vec![1, 2]);
        assert_eq!(decode::<Option<u8>>("k", b"null").unwrap(), None);
        assert_eq!(decode::<Option<u8>>("k", b"7").unwrap(), Some(7));
        assert_eq!(decode::<String>("k", br#""s""#).unwrap(), "s");
        assert_eq!(
            decode::<crate::model::UserStatus>("k", br#""active""#).unwrap(),
            crate::model::UserStatus::Active
        );
    }

    #[test]
    fn decode_refuses_a_struct_as_an_array_and_trailing_bytes() {
        for bytes in [&br#"[1,"x"]"#[..], br#"{"a":1} x"#, br#"{"a":300}"#] {
            match decode::<Rec>("k", bytes) {
                Err(DomainError::Corrupt { key, reason }) => {
                    assert_eq!(key, "k");
                    assert!(!reason.is_empty());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Counter {
        n: i64,
    }

    #[test]
    fn update_answers_missing_unchanged_written_and_the_change_s_error() {
        use crate::store::MemoryStore;
        use futures::executor::block_on;
        let s = MemoryStore::from_env();
        block_on(async {
            let add = |c: &mut Counter| {
                c.n += 1;
                Ok::<_, DomainError>(true)
            };
            assert!(matches!(
                update(&s, "k", add).await.unwrap(),
                Updated::Missing
            ));
            assert_eq!(s.get("k").await.unwrap(), None, "never creates a record");
            write(&s, "k", &Counter { n: 1 }).await.unwrap();
            match update(&s, "k", add).await.unwrap() {
                Updated::Written(c) => assert_eq!(c, Counter { n: 2 }),
                other => panic!("{other:?}"),
            }
            let stored: Counter = read(&s, "k").await.unwrap().unwrap();
            assert_eq!(stored, Counter { n: 2 });
            match update(&s, "k", |_: &mut Counter| Ok::<_, DomainError>(false))
                .await
                .unwrap()
            {
                Updated::Unchanged(c) => assert_eq!(c, Counter { n: 2 }),
                other => panic!("{other:?}"),
            }
            let refused = update(&s, "k", |c: &mut Counter| {
                c.n = 99;
                Err::<bool, _>(DomainError::Corrupt {
                    key: "k".into(),
                    reason: "refused".into(),
                })
            })
            .await;
            assert!(
                matches!(refused, Err(DomainError::Corrupt { reason, .. }) if reason == "refused")
            );
            let kept: Counter = read(&s, "k").await.unwrap().unwrap();
            assert_eq!(kept, Counter { n: 2 }, "a failed change writes nothing");
            s.set("k", b"[1]").await.unwrap();
            assert!(matches!(
                update(&s, "k", add).await,
                Err(DomainError::Corrupt { .. })
            ));
            assert_eq!(s.get("k").await.unwrap().as_deref(), Some(&b"[1]"[..]));
        });
    }
}
