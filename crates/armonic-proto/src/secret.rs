//! Requests with their secrets hidden, for whatever records them (the journal, logs).

use std::borrow::Cow;

use armonic_lifecycle::Values;
use armonic_lifecycle::secret::SecretNames;

use crate::method::Request;

impl Request {
    /// The values the request carries, if it carries any. Every method is named here, so
    /// that a new method carrying values cannot be recorded with its secrets in clear.
    fn values_mut(&mut self) -> Option<&mut Values> {
        match self {
            Request::StateGoto(m) => Some(&mut m.values),
            Request::ProvideCallValidate(m) => Some(&mut m.values),
            Request::ProvideCall(m) => Some(&mut m.values),
            Request::Info(_)
            | Request::Locations(_)
            | Request::Offering(_)
            | Request::Fingerprint(_)
            | Request::Mesh(_)
            | Request::Lifecycle(_)
            | Request::State(_)
            | Request::StateCurrent(_)
            | Request::StateGotoPath(_)
            | Request::StateGotoRequires(_)
            | Request::Provide(_)
            | Request::ProvideCallPath(_)
            | Request::ProvideCallRequires(_)
            | Request::ToDot(_)
            | Request::ToPrimitive(_)
            | Request::Uri(_)
            | Request::Xpath(_) => None,
        }
    }

    /// The request with every value whose address names a secret variable (`names`)
    /// replaced by `********`.
    pub fn with_secrets_hidden(&self, names: &SecretNames) -> Cow<'_, Request> {
        if names.is_empty() {
            return Cow::Borrowed(self);
        }
        let mut hidden = self.clone();
        match hidden.values_mut() {
            Some(values) if values.0.iter().any(|e| names.names_secret(&e.xpath)) => {
                *values = names.hide(values);
                Cow::Owned(hidden)
            }
            _ => Cow::Borrowed(self),
        }
    }
}
