//! What the Discord front-ends need from one interaction, whichever way it
//! arrived (gateway or HTTP endpoint): its kind, the command or button, the
//! options given and who used it where, with their permissions. Built from
//! serenity's `Interaction` by `interactions::invocation`; read by the
//! handler (`commands`) and its helpers. Plain data: it must not run
//! anything.

use serenity::model::permissions::Permissions;

use crate::types::Mention;

/// One option value of an interaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OptionValue {
    /// A string option.
    String(String),
    /// An integer option.
    Integer(i64),
    /// A number (float) option.
    Number(f64),
    /// A boolean option.
    Bool(bool),
    /// A role or a member picked for a mentionable option (never the
    /// guild's `@everyone` role).
    Mention(Mention),
    /// Channels, attachments…: nothing this bot asks for.
    Other,
}

impl OptionValue {
    /// The value as text, as a user would have typed it.
    pub(super) fn text(&self) -> Option<String> {
        match self {
            OptionValue::String(s) => Some(s.clone()),
            OptionValue::Integer(i) => Some(i.to_string()),
            OptionValue::Number(n) => Some(n.to_string()),
            OptionValue::Bool(_) | OptionValue::Mention(_) | OptionValue::Other => None,
        }
    }

    pub(super) fn mention(&self) -> Option<Mention> {
        match self {
            OptionValue::Mention(m) => Some(*m),
            _ => None,
        }
    }
}

/// One named option of an invocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CommandOption {
    /// The option's name as registered.
    pub(crate) name: String,
    /// What the user gave.
    pub(crate) value: OptionValue,
    /// The option being typed (autocomplete interactions).
    pub(crate) focused: bool,
}

impl CommandOption {
    /// An option that is not being typed.
    #[cfg(test)]
    pub(crate) fn new(name: &str, value: OptionValue) -> CommandOption {
        CommandOption { name: name.to_owned(), value, focused: false }
    }
}

/// Discord's interaction types this front-end tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvocationKind {
    /// Type 1: Discord checking the endpoint.
    Ping,
    /// Type 2: a slash command was used.
    Command,
    /// Type 4: an option is being typed.
    Autocomplete,
    /// Type 3: a button under an alert was pressed; `Invocation::name` is
    /// its `custom_id`.
    Component,
    /// Modals and anything newer: not used by this bot.
    Unsupported(u8),
}

/// What the front-end needs from one interaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invocation {
    /// Ping, command, autocomplete or button.
    pub(crate) kind: InvocationKind,
    /// The command name (`data.name`); empty for a ping.
    pub(crate) name: String,
    /// Top-level options (sub-command options flattened).
    pub(crate) options: Vec<CommandOption>,
    /// Channel it was used in; `None` if Discord sent none.
    pub(crate) channel_id: Option<u64>,
    /// Guild it was used in; `None` in a DM.
    pub(crate) guild_id: Option<u64>,
    /// The member's permissions in the channel (`member.permissions`);
    /// `None` outside a guild.
    pub(crate) permissions: Option<Permissions>,
    /// Who used it (member or DM user); `None` if Discord sent neither.
    pub(crate) user_id: Option<u64>,
    /// A pressed button's message's "Watch live" link, kept when its
    /// buttons change; `None` for everything else.
    pub(crate) watch: Option<String>,
}

impl Invocation {
    /// An interaction of `kind` that carries nothing the handler reads.
    pub(crate) fn of_kind(kind: InvocationKind) -> Invocation {
        Invocation {
            kind,
            name: String::new(),
            options: Vec::new(),
            channel_id: None,
            guild_id: None,
            permissions: None,
            user_id: None,
            watch: None,
        }
    }

    /// Manage Channels or Administrator in a guild; in a DM with the bot
    /// (no guild) the user manages their own DM channel.
    pub(crate) fn can_manage(&self) -> bool {
        match (self.permissions, self.guild_id) {
            (Some(p), _) => p.intersects(Permissions::MANAGE_CHANNELS | Permissions::ADMINISTRATOR),
            (None, None) => true,
            (None, Some(_)) => false,
        }
    }
}
